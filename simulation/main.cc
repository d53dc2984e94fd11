#include "simulation/commands.h"

int main(int argc, char** argv) {
  return fleetml::cli::run_program("fleet-sim",
                                   "simulate fleets on real 4G/5G traces and device profiles",
                                   fleetml::sim::registered_commands(), argc, argv);
}
