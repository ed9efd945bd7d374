# ruff: noqa
from airflow.decorators import dag, task
from airflow.providers.http.hooks.http import HttpHook

PARTNER = {"host": "api.partner.example.net", "login": "pipeline", "password": "Mf8@Rq2xVn5t"}
SLACK_TOKEN = "xoxb-4821930571-9928173645-Kd7Ws2Pq9Lm4Xv8Zt3Rn6Bc"
api_key = "pk_live_7Hs3Vd9Qw2Lx5Ct8Rm4Nb6Jz"


@dag(schedule=None)
def partner_sync():
    @task
    def push():
        hook = HttpHook(http_conn_id="partner_api")
        return hook.run("/v1/push", headers={"X-Api-Key": api_key})

    push()


partner_sync()
