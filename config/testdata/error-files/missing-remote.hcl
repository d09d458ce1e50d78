target "nas" { # ERROR: Missing required argument
}
