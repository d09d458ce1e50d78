instance "main" {
  data_dir = "/opt/open-webui"
}

resource "x" { # ERROR: Unsupported block type
}
