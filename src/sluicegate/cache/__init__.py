"""The exact-match response cache (SPEC 12): keys, stored answers, memory and Redis stores."""
