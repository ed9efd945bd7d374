# The official Airflow image with pipeline-secrets installed.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root pyproject.toml README.md /opt/pipeline-secrets/
COPY --chown=airflow:root pipeline_secrets /opt/pipeline-secrets/pipeline_secrets
COPY --chown=airflow:root airflow_plugin /opt/pipeline-secrets/airflow_plugin
COPY --chown=airflow:root glue_lib /opt/pipeline-secrets/glue_lib
COPY --chown=airflow:root devstack /opt/pipeline-secrets/devstack
RUN pip install --no-cache-dir "/opt/pipeline-secrets[postgres,sqlalchemy]" \
        "apache-airflow==3.3.2" "apache-airflow-providers-postgres" "pyspark==3.5.*"
ENV PYTHONPATH=/opt/pipeline-secrets
