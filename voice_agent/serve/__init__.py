"""The network server: an ASGI app over the agent (HTTP turns, WebSocket sessions, the
browser console, health and metrics). Sits above the agent, below the command line."""

from voice_agent.serve._app import create_app
from voice_agent.serve._json import emotion_dict, event_dict, turn_dict
from voice_agent.serve._service import Busy, Service
from voice_agent.serve._settings import ServeSettings, is_loopback

__all__ = [
    "Busy",
    "ServeSettings",
    "Service",
    "create_app",
    "emotion_dict",
    "event_dict",
    "is_loopback",
    "turn_dict",
]
