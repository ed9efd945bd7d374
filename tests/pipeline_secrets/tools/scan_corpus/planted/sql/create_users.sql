-- Users for the ETL (run once by the DBA)
CREATE USER etl_loader WITH PASSWORD 'Fh6Qx2Wm9Lv4';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO etl_loader;
ALTER ROLE reporter WITH ENCRYPTED PASSWORD 'Pm3Zv8Kx5Wq7';
CREATE USER 'crm_reader'@'%' IDENTIFIED BY 'Lx9Wt4Qv7Nz2';
