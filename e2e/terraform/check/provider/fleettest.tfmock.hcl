# Mock values for the fleettest provider where generated ones do not fit.
mock_data "fleettest_echo" {
  defaults = {
    digest = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}
