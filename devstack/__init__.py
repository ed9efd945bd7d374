"""Local stand-ins for the cloud, shared by the tests, the demo, the benchmarks and the
docker-compose seeder: a moto Secrets Manager server, a PostgreSQL cluster that checks
passwords, MariaDB users with passwords. Not part of the installed distribution.
"""
