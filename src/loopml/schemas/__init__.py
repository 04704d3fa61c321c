"""Pydantic models of loopml's REST API, shared by the server and the REST client store."""
