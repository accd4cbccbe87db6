# One image for every Storeloop container: Airflow components, MLflow, and the sandbox stand-ins.
# libgomp1: the OpenMP runtime LightGBM (the learned ranker) links against; python:3.11-slim lacks it.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 AIRFLOW_HOME=/opt/airflow
RUN apt-get update && apt-get install -y --no-install-recommends git libpq5 libgomp1 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/storeloop
COPY requirements.txt pyproject.toml ./
RUN pip install uv && uv pip install --system -r requirements.txt
COPY . .
RUN uv pip install --system --no-deps -e . \
 && dbt parse --project-dir dbt_project --profiles-dir dbt_project
