"""raft: the Raft peer of the 6.5840 lab, and the Persister it saves its state in.

from raft import Make, ApplyMsg, MakePersister, Persister
"""

from raft.persister import MakePersister, Persister
from raft.raft import ApplyMsg, Make, Raft

__all__ = ["ApplyMsg", "Make", "MakePersister", "Persister", "Raft"]
