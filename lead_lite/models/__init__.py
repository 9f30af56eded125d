"""Models: loading the policy (trl or unsloth backend), the tiny offline model, and sampling from them."""
