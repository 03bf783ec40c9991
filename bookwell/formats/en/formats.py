# Clinics' English pages show 24-hour times (09:30, 14:00), as clinics in Europe write them.
TIME_FORMAT = "H:i"
