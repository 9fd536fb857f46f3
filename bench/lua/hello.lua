-- hello: the ceiling app's plain route (no database, no auth).
dofile("common.lua")
static_request("GET")
