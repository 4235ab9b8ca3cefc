/*
 * compat.h - the differences between Lua 5.1 / LuaJIT 2.1 and Lua 5.2, 5.3
 * and 5.4 that luamockit.c needs, in one place.
 *
 * Everything here is static: the module exports nothing but
 * luaopen_luamockit.  The Lua 5.1 build is also the one LuaJIT loads
 * (Debian installs both under lib/lua/5.1), so the 5.1 branch uses only the
 * Lua 5.1 C API, never a LuaJIT extension.
 */
#ifndef LUAMOCKIT_COMPAT_H
#define LUAMOCKIT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#ifndef LUA_OK
#  define LUA_OK 0
#endif

/* luaL_setfuncs: 5.2+.  LuaJIT 2.1 has it too, but a module built against
 * the 5.1 headers must not depend on it. */
#if LUA_VERSION_NUM >= 502
#  define lm_setfuncs(L, l, nup) luaL_setfuncs((L), (l), (nup))
#else
static void lm_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++)           /* copy the upvalues on top */
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#endif

/* Full userdata without user values (5.4 would give one by default). */
#if LUA_VERSION_NUM >= 504
#  define lm_newuserdata(L, sz) lua_newuserdatauv((L), (sz), 0)
#else
#  define lm_newuserdata(L, sz) lua_newuserdata((L), (sz))
#endif

/* A timer's userdata keeps its callback in its user value where the
 * version has one that takes any value (LM_CB_IN_UV): 5.3, where every
 * userdata has one, and 5.4, where one user value adds 24 bytes of
 * header (a 16-byte anchor slot plus the 4-byte slot number and padding
 * cost the same).  5.2's user value must be a table and 5.1's
 * environment too: there the callback has a second anchor slot.
 * lm_setcb pops the value on top into the userdata at index i;
 * lm_pushcb pushes it. */
#if LUA_VERSION_NUM >= 504
#  define LM_CB_IN_UV 1
#  define lm_newtimer(L, sz) lua_newuserdatauv((L), (sz), 1)
#  define lm_setcb(L, i) ((void)lua_setiuservalue((L), (i), 1))
#  define lm_pushcb(L, i) ((void)lua_getiuservalue((L), (i), 1))
#elif LUA_VERSION_NUM == 503
#  define LM_CB_IN_UV 1
#  define lm_newtimer(L, sz) lua_newuserdata((L), (sz))
#  define lm_setcb(L, i) lua_setuservalue((L), (i))
#  define lm_pushcb(L, i) ((void)lua_getuservalue((L), (i)))
#else
#  define lm_newtimer(L, sz) lua_newuserdata((L), (sz))
#endif

/* Integer subtype (5.3+): integers are read exactly, floats checked. */
#if LUA_VERSION_NUM >= 503
#  define lm_isinteger(L, i) lua_isinteger((L), (i))
#else
#  define lm_isinteger(L, i) 0
#endif

#endif /* LUAMOCKIT_COMPAT_H */
