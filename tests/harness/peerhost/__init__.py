"""The peer host: the program each sealed peer runs in (harness/runtime/sealed.py).

It is the only process that imports the student's raft. It runs untrusted code
and is trusted for nothing: what it tells the tester (handler fields, thread
errors, stacks) only helps report a failure, and every message it sends is
checked by the tester (harness/runtime/wire.py).
"""
