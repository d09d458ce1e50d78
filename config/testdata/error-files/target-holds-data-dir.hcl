instance "main" {
  data_dir = "/opt/open-webui"
}

instance "srv" {
  data_dir = "/srv/owui"
}

target "opt" {
  remote = "/opt/" # fine in itself, but <remote>/<backup name> is the data directory
}

target "srv-crypt" {
  remote = "/srv" # crypt stores backup owui under an encrypted name

  crypt {
    password = env("OWUI_TEST_SECRET")
  }
}

backup "open-webui" {
  instance = instance.main
  to       = [target.opt] # ERROR: Target inside data directory
  every    = "24h"
}

backup "other" {
  instance = instance.main
  to       = [target.opt]
  every    = "24h"
}

backup "owui" {
  instance = instance.srv
  to       = [target.srv-crypt]
  every    = "24h"
}
