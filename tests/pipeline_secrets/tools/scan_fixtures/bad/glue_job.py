# ruff: noqa
# A Glue script with a JDBC URL holding the password (fixture).
df = spark.read.jdbc(  # noqa: F821
    "jdbc:mysql://orders.db:3306/shop?user=admin&password=Tr0ub4dor3",  # FINDING password-literal
    "orders",
)
mongo = "mongodb+srv://reader:R3ad0nly2024@cluster0.mongo.internal/app"  # FINDING uri-password
