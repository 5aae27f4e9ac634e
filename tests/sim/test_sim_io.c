#include "samem/sim.h"
#include "test.h"
int main(void) { return sm_test_report(); }
