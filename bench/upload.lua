-- wrk's script of single-image uploads (bench/images.py writes in the files and the boundary).
-- The PNGs are read at start; each request's own text chunk, with its CRC (or Pillow refuses
-- the file), is put after the header chunk: another file, the same pixels. A run's random
-- prefix keeps runs apart.
local bit = require("bit")
local paths = {FILES}
local boundary = "{BOUNDARY}"
local crcs = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit.band(c, 1) == 1 then c = bit.bxor(0xEDB88320, bit.rshift(c, 1)) else c = bit.rshift(c, 1) end
  end
  crcs[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do c = bit.bxor(crcs[bit.band(bit.bxor(c, s:byte(i)), 0xFF)], bit.rshift(c, 8)) end
  return bit.bxor(c, 0xFFFFFFFF)
end
local function be32(n)
  return string.char(bit.band(bit.rshift(n, 24), 0xFF), bit.band(bit.rshift(n, 16), 0xFF),
    bit.band(bit.rshift(n, 8), 0xFF), bit.band(n, 0xFF))
end
local samples = {}
for i, path in ipairs(paths) do
  local f = assert(io.open(path, "rb")); local png = f:read("*a"); f:close()
  samples[i] = {head = png:sub(1, 33), tail = png:sub(34), name = path:match("[^/]+$")}
end
local u = assert(io.open("/dev/urandom", "rb"))
local run = u:read(6):gsub(".", function(c) return string.format("%02x", c:byte()) end)
u:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
local n = 0
function request()
  n = n + 1
  local s = samples[(n - 1) % #samples + 1]
  local chunk = "tEXtn\0" .. run .. n
  local png = s.head .. be32(#chunk - 4) .. chunk .. be32(crc32(chunk)) .. s.tail
  return wrk.format(nil, nil, nil, "--" .. boundary .. "\r\nContent-Disposition: form-data; " ..
    "name=\"file\"; filename=\"" .. s.name .. "\"\r\nContent-Type: image/png\r\n\r\n" .. png ..
    "\r\n--" .. boundary .. "--\r\n")
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, "p50": %d, "p90": %d, "p99": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
