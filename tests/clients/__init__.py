"""Clients nobody here wrote, against the session gateway: LangChain's ChatOpenAI, the llm CLI."""
