"""The model as a product: the fitted inference pipeline and its MLflow pyfunc export."""
