"""Ingest: register outputs already on disk (result folders, Boutiques/bosh records) as executions."""
