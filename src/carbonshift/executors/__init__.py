"""Launching and controlling jobs on local processes, Slurm and Kubernetes.
(Filled in by the service issue.)"""
