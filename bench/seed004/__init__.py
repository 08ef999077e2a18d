"""Seed 004's serving design, rebuilt as a reference to measure servekit against.

An API process stores each upload by hash and pushes a job onto a Redis list; model workers pop
jobs one at a time, run the model on that one image and leave the answer under the job's id,
which the API polls for. Start it with ``python -m bench.seed004 api`` and
``python -m bench.seed004 worker`` (see ``bench/README.md``).
"""
