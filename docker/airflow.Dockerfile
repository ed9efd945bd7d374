# The official Airflow image with pipeline-secrets installed.
FROM apache/airflow:3.3.2-python3.11
# Java and the PostgreSQL JDBC driver: glue_rds_to_redshift runs the Glue script on
# local Spark in the Airflow container (PIPELINE_SECRETS_GLUE_LOCAL=1).
USER root
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless libpostgresql-jdbc-java \
    && rm -rf /var/lib/apt/lists/*
# The agent's socket directory: a named volume mounted here starts with this owner and
# mode, so the agent (a sidecar running as airflow) can create its private subdirectory.
RUN mkdir -p /run/pipeline-secrets && chown airflow:root /run/pipeline-secrets \
    && chmod 0700 /run/pipeline-secrets
USER airflow
COPY --chown=airflow:root pyproject.toml README.md /opt/pipeline-secrets/
COPY --chown=airflow:root pipeline_secrets /opt/pipeline-secrets/pipeline_secrets
COPY --chown=airflow:root airflow_plugin /opt/pipeline-secrets/airflow_plugin
COPY --chown=airflow:root glue_lib /opt/pipeline-secrets/glue_lib
COPY --chown=airflow:root devstack /opt/pipeline-secrets/devstack
COPY --chown=airflow:root glue_jobs /opt/pipeline-secrets/glue_jobs
RUN pip install --no-cache-dir "/opt/pipeline-secrets[postgres,sqlalchemy]" \
        "apache-airflow==3.3.2" "apache-airflow-providers-postgres" "pyspark==3.5.*"
ENV PYTHONPATH=/opt/pipeline-secrets
