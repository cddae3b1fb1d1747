"""python -m harness.peerhost FD MODULE MAKE [--race]: serve one peer over socket FD.

python -m harness.peerhost --rebound MODULE MAKE: print the handlers' rebound
parameters (harness/causes.py), for pytest's header in a sealed run.
"""

from harness.peerhost.host import main

main()
