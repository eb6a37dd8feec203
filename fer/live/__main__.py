"""`python -m fer.live --fd N BUF BUF`: the live analysis worker process (started by the server)."""

from fer.live.worker import main

main()
