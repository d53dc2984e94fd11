// fleet-vehicle: the vehicle side of fleetml. Commands register themselves (commands.h).
#include "shared/runtime/runtime.h"
#include "vehicle_client/commands.h"

int main(int argc, char** argv) {
  using namespace fleetml;
  runtime::ensure_sleeping_blas_workers(argv);
  return cli::run_program("fleet-vehicle",
                          "the vehicle side of fleetml: calibrate, benchmark and run models",
                          vehicle::registered_commands(), argc, argv);
}
