"""Scripted fakes of our protocols, for tests and dry runs: real interfaces, recorded behaviour."""

from voice_agent.testing._scripted import ScriptedUnderstanding

__all__ = ["ScriptedUnderstanding"]
