"""What the supervisor wall and desk are told about the shift: KPIs, orders at risk, anomalies."""
