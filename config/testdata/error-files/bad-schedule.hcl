instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "cron" {
  instance = instance.main
  to       = [target.nas]
  schedule = "0 25 * * *" # ERROR: Invalid schedule
}

backup "six-fields" {
  instance = instance.main
  to       = [target.nas]
  schedule = "0 0 3 * * *" # ERROR: Invalid schedule
}

backup "descriptor" {
  instance = instance.main
  to       = [target.nas]
  schedule = "@every 1h" # ERROR: Invalid schedule
}

backup "never" {
  instance = instance.main
  to       = [target.nas]
  schedule = "0 0 30 2 *" # ERROR: Invalid schedule
}

backup "tz" {
  instance = instance.main
  to       = [target.nas]
  schedule = "CRON_TZ=UTC 0 3 * * *" # ERROR: Invalid schedule
}
