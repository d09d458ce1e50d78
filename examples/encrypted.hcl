# Client-side encryption: files and names are encrypted with rclone crypt
# before they leave the host, so the cloud provider sees neither.
#
# Export the secrets before running owui (for a systemd timer, put them in an
# EnvironmentFile readable only by root):
#   OWUI_CRYPT_PASSWORD=...   OWUI_CRYPT_SALT=...
# Keep a copy of both somewhere safe: without them the backups are lost.
# Each snapshot still restores without owui, through an rclone crypt remote
# with the same password and salt.

instance "main" {
  data_dir  = "/opt/open-webui"
  container = "open-webui"
}

target "b2" {
  remote = "b2:OpenWebUI-backups-encrypted"

  crypt {
    password = env("OWUI_CRYPT_PASSWORD")
    salt     = env("OWUI_CRYPT_SALT") # rclone's password2; optional but recommended
  }
}

backup "nightly" {
  instance = instance.main
  to       = [target.b2]
  schedule = "daily" # midnight in the host's time zone

  keep {
    daily   = 7
    weekly  = 4
    monthly = 12
  }
}
