-- Users for the ETL; passwords are set by the rotation function, never here.
\set etl_password `aws secretsmanager get-secret-value --secret-id prod/etl --query SecretString --output text`
CREATE USER etl_loader WITH PASSWORD :'etl_password';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO etl_loader;
ALTER ROLE reporter WITH PASSWORD NULL;
-- the rotation Lambda runs: ALTER USER name WITH PASSWORD '<new password>'
CREATE TABLE credentials_audit (user_name text, password_changed_at timestamptz);
