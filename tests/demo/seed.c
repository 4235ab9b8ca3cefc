// cat t.c
// compile this file with `gcc t.c mockit.c -lpthread -lrt -o q`
#include <stdio.h>

#include "mockit.h"

// function prototype MUST be of a function
// that takes a void ptr and returns a void ptr
void *one_off_callback(void *arg){
    struct data *dt = arg;
    printf("%s\n", (char *)dt->stuff);
    return NULL;
}

void *interval_callback(void *arg){
    struct data *dt = arg;
    printf("%s\n", (char *)dt->stuff);
    return NULL;
}
//////////////////////////////////////////////////////////////



int main(int argc, char **argv){
    // sleeping
    ssize_t left = 0;
    int error = 0;
    Mockit_bsleep(1000, &left, &error);
    printf("done sleeping. Time left: %zu, error: %i\n", left, error);

    // ********************************

    // one-off callback timer registration
    struct data *data = Mockit_data_init();
    data->cb = one_off_callback;
    char msg[] = "called one-shot callback";
    data->stuff = msg;
    data->timer_id = 0;
    Mockit_oneoff(3000, data);
    // the one-off callback  gets called asynchronously so we must either
    // sleep or sit in a loop so that the program doesn't exit before the timer
    // for the callback expires
    sleep(4);
    int res = Mockit_destroy(data);
    printf("res is %i\n", res);
    
    // ********************************

    // interval timer callback
    struct data data2;
    data2.cb = interval_callback;
    char msg2[] = "called interval callback";
    data2.stuff = msg2;
    Mockit_getit(3000, &data2);
    // we sleep 10 seconds which means there's enough time for the interval
    // callback to be called 3 times
    sleep(10);

    // NOTE:
    // you ONLY call Mockit_destroy() on the data struct if it was dynamically allocated
    // eg. through Mockit_data_init()
    // Here it was statically allocated so destroy() must NOT be called.
}
