"""The simulated Salesforce fleet: one world model, the writers of every format Salesforce serves,
and a fake Salesforce that serves a world over HTTPS. Beside the product's three stages, never
in them: only `tokensentry demo` and `tokensentry bench` use it."""
