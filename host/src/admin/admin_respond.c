/* admin_respond.c: the JSON answers every file of the admin API gives
 * (a document, an {"error": ...} object, a list of load errors). It calls
 * nothing else of the admin API, so the handlers and the router above it
 * never call each other in a loop. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"

void fnh__admin_respond_error(fnh__http_exchange *x, int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    fnh__admin_respond_json(x, status, o);
}

void fnh__admin_respond_json(fnh__http_exchange *x, int status, cJSON *doc)
{
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    fnh__http_respond_simple(x, status, "application/json; charset=utf-8", s ? s : "null",
                             s ? strlen(s) : 4);
    free(s);
}

cJSON *fnh__admin_errors_array(const fnh__strlist *l)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < l->len; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(l->items[i]));
    return a;
}
