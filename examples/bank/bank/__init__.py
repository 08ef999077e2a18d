"""bank: a plain FastAPI CRUD service of accounts and transactions, monitored by servekit."""
