"""``python -m voice_agent`` runs the command line."""

from voice_agent.cli import run

run()
