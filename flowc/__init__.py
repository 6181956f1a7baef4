"""flowc: declare scheduled tasks once; compile them to Terraform for AWS, GCP and
Kubernetes, and run them locally with hot reload."""

__version__ = "0.1.0"
