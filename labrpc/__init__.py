"""labrpc: the simulated network the Raft lab runs on, with Go labrpc's API.

    net = MakeNetwork()                   holds ends, servers and their links
    end = net.MakeEnd(endname)            a client end-point, to talk to one server
    net.AddServer(servername, server)     add a named server
    net.DeleteServer(servername)          eliminate the named server
    net.Connect(endname, servername)      connect a client to a server
    net.Enable(endname, enabled)          enable/disable a client
    net.Reliable(bool)                    False means drop/delay messages
    end.Call("Raft.AppendEntries", args, reply) -> bool

    srv = MakeServer(); srv.AddService(MakeService(obj)); net.AddServer(name, srv)

Beyond Go's labrpc, for the tester's tests beyond Go's lab (off unless a test
turns them on): net.set_duplicates(bool), net.set_stale(bool),
net.set_reply_hook(hook), net.deliver_copy(servername, svcMeth, args_bytes);
and for the tester's sealed mode, a Call of encoded args that blocks
(net.call_bytes) or calls back (net.call_later).

Args and replies travel as labgob bytes, so no reference crosses the network.
"""

from labrpc.network import ClientEnd, MakeNetwork, Network
from labrpc.service import LabrpcError, MakeServer, MakeService, Server, Service

__all__ = [
    "ClientEnd",
    "LabrpcError",
    "MakeNetwork",
    "MakeServer",
    "MakeService",
    "Network",
    "Server",
    "Service",
]
