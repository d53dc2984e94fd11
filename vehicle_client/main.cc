// fleet-vehicle: the vehicle side of fleetml. Commands register themselves (commands.h).
#include "vehicle_client/commands.h"

int main(int argc, char** argv) {
  using namespace fleetml;
  return cli::run_program("fleet-vehicle",
                          "the vehicle side of fleetml: calibrate, benchmark and run models",
                          vehicle::registered_commands(), argc, argv);
}
