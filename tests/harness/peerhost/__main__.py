"""python -m harness.peerhost FDS MODULE MAKE [--race]: serve one peer over sockets
FDS, comma-separated: its main channel's, then its lanes' (harness/runtime/lanes.py),
its RPC inboxes' and its reply inboxes' (harness/runtime/inboxes.py).

python -m harness.peerhost --rebound MODULE MAKE: print the handlers' rebound
parameters (harness/causes.py), for pytest's header in a sealed run.
"""

from harness.peerhost.host import main

main()
