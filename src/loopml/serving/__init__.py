"""Model serving: the inference server, deployments, routing and the prediction log."""
