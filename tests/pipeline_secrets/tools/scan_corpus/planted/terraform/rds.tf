provider "aws" {
  region     = "eu-west-1"
  access_key = "AKIAX4PL7QZ2KVNM6RWT"
  secret_key = "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"
}

resource "aws_db_instance" "orders" {
  identifier        = "orders"
  engine            = "postgres"
  instance_class    = "db.t4g.medium"
  username          = "orders_admin"
  password          = "Kt7Wx3Pq9Lz5"
  allocated_storage = 50
}

resource "aws_redshift_cluster" "dw" {
  cluster_identifier = "dw"
  master_username    = "dw_admin"
  master_password    = "Qw8Ln3Xv6Pz2"
  node_type          = "ra3.xlplus"
}
