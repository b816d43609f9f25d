"""Airflow, MLflow, Prometheus and Carbon Aware SDK-style integrations (optional extras)."""
