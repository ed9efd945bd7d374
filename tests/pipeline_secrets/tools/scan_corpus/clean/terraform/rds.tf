provider "aws" {
  region = "eu-west-1"
}

resource "random_password" "orders" {
  length  = 32
  special = true
}

resource "aws_db_instance" "orders" {
  identifier                  = "orders"
  engine                      = "postgres"
  username                    = "orders_admin"
  password                    = random_password.orders.result
  manage_master_user_password = true
}

resource "aws_redshift_cluster" "dw" {
  cluster_identifier = "dw"
  master_username    = "dw_admin"
  master_password    = var.redshift_master_password
}

resource "aws_secretsmanager_secret_version" "orders" {
  secret_id     = aws_secretsmanager_secret.orders.id
  secret_string = jsonencode({ username = "orders_admin", password = random_password.orders.result })
}

data "aws_secretsmanager_secret_version" "api" {
  secret_id = "prod/partner/api-token"
}
