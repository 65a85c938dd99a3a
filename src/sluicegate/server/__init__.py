"""Running the gateway under uvicorn: the guarded HTTP protocol and the process setup."""
