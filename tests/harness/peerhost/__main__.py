"""python -m harness.peerhost FD MODULE MAKE [--race]: serve one peer over socket FD."""

from harness.peerhost.host import main

main()
