"""The LiteLLM fixtures (configs adapted from LiteLLM's docs) and an environment for them."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
MOCK_ENV = {
    "MOCK_API_BASE": "http://127.0.0.1:9/v1",
    "MOCK_KEY_A": "key-a",
    "MOCK_KEY_B": "key-b",
    "DEAD_API_BASE": "http://127.0.0.1:9",
    "AZURE_API_BASE_EU": "https://eu.example.net",
    "AZURE_API_BASE_CA": "https://ca.example.net",
    "AZURE_API_KEY_EU": "azure-eu-key",
    "AZURE_API_KEY_CA": "azure-ca-key",
    "AZURE_API_KEY": "azure-key",
    "ANTHROPIC_API_BASE": "https://anthropic.example.net",
    "ANTHROPIC_API_KEY": "anthropic-key",
    "GEMINI_API_BASE": "https://gemini.example.net",
    "GEMINI_API_KEY": "gemini-key",
    "OPENAI_API_KEY": "openai-key",
    "LITELLM_MASTER_KEY": "sk-litellm-master",
    "REDIS_PASSWORD": "redis-secret-pw",
}
