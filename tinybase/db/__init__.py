"""System tables (models), their migrations, and the column types they share."""
