"""Deployment artefacts (systemd, nginx, Docker, Compose, Kubernetes) rendered from one set of
templates, so `install.sh`, `ai-bot deploy` and the files in the repository never disagree."""
